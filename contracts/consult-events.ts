/** socket.io events of the consult feature (owned by server/consults). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConsultServerToClientEvents {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConsultClientToServerEvents {}
