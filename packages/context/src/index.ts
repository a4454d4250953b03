// Public entry of @foundation/context: everything users may import is exported here, by name.
export {};
