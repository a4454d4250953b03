module.exports = { preset: '@foundation/jest-preset', displayName: 'demo' };
