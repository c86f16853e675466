/** HTTP API types of the imaging feature, shared by server/ and client/. */
export {};
