module.exports = { preset: '@foundation/jest-preset', displayName: 'eslint-config' };
