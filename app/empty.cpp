// Keeps every area library non-empty while its sources are being written, so
// the build graph is valid from the first commit.
