// Package msgroute is the HTTP side of messaging ("the load balancer uses
// proxy for messages", in the original's words): the message route
// (default POST /message) that delivers an HTTP request to the backend
// holding a user, to every backend, or into the user's mailbox; and user
// affinity, a balance.Policy that sends ordinary requests carrying a user
// key to the backend holding that user.
//
// It owns no state of its own beyond a rate limiter: who holds a name is the
// router's, forwarding is the proxy's.
package msgroute
