module.exports = { preset: '@foundation/jest-preset', displayName: 'chaos' };
