// Public entry of @foundation/raft: everything users may import is exported here, by name.
export {};
