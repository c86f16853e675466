/** socket.io events of the sfu feature (owned by server/sfu). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SfuServerToClientEvents {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SfuClientToServerEvents {}
