module.exports = { preset: '@foundation/jest-preset', displayName: 'membership-hyparview' };
