// Public entry of @foundation/registry: everything users may import is exported here, by name.
export {};
