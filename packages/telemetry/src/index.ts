// Public entry of @foundation/telemetry: everything users may import is exported here, by name.
export {};
