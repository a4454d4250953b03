// Public entry of @foundation/foundation: everything users may import is exported here, by name.
export {};
