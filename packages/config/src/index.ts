// Public entry of @foundation/config: everything users may import is exported here, by name.
export {};
