// Public entry of @foundation/events: everything users may import is exported here, by name.
export {};
