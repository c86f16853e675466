/** HTTP API types of the sfu feature, shared by server/ and client/. */
export {};
