/** socket.io events of the imaging feature (owned by server/imaging). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ImagingServerToClientEvents {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ImagingClientToServerEvents {}
