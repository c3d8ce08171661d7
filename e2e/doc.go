// Package e2e holds Switchboard's end-to-end tests: the real binary as a
// process, real Node.js backends using the stock npm socket.io-client (the
// examples), Go backends on our own client, and real user clients, all on
// loopback. It has no non-test code beyond this comment.
package e2e
