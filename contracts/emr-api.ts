/** HTTP API types of the emr feature, shared by server/ and client/. */
export {};
