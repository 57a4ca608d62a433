// Runs before every test file: keep server logs to warnings unless a developer asks for more.
process.env.PHOTON_LOG_LEVEL ??= process.env.PHOTON_TEST_LOG_LEVEL ?? 'warn';
