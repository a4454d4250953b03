// Public entry of @foundation/process: everything users may import is exported here, by name.
export {};
