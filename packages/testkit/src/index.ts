// Public entry of @foundation/testkit: everything users may import is exported here, by name.
export {};
