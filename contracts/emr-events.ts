/** socket.io events of the emr feature (owned by server/emr). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EmrServerToClientEvents {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EmrClientToServerEvents {}
