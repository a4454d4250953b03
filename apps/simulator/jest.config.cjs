module.exports = { preset: '@foundation/jest-preset', displayName: 'simulator' };
