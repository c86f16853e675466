/** HTTP API types of the consult feature, shared by server/ and client/. */
export {};
