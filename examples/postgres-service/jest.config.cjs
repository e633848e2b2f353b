module.exports = {
  testEnvironment: '@faultline/jest-environment',
  testMatch: ['**/*.jest.test.cjs'],
  testTimeout: 30_000,
  rootDir: __dirname,
}
