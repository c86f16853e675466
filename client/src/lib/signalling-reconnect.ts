/**
 * socket.io's reconnection for every signalling socket of the client (the app's and the call's).
 * A clinic's link blinks: try again at most 2 s apart (socket.io's default grows to 5 s), so a
 * dropped connection comes back within about 2 s of the link's return.
 */
export const SIGNALLING_RECONNECT = { reconnectionDelay: 500, reconnectionDelayMax: 2000 } as const;
