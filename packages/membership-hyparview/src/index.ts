// Public entry of @foundation/membership-hyparview: everything users may import is exported here, by name.
export {};
