// Public entry of @foundation/channels: everything users may import is exported here, by name.
export {};
