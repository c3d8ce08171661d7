package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// presenceReply is the ack of join_subs / leave_subs.
type presenceReply struct {
	failure
	Joined []string  `json:"joined"`
	Left   []string  `json:"left"`
	Failed []failure `json:"failed"`
}

// errs returns the per-name failures joined (nil when none).
func (r *presenceReply) errs(event string) error {
	var errs []error
	for i := range r.Failed {
		errs = append(errs, r.Failed[i].err(event))
	}
	if len(errs) == 0 && !r.OK {
		errs = append(errs, r.failure.err(event))
	}
	return errors.Join(errs...)
}

// Join claims names for this backend, atomically and cluster-wide: from now
// on messages to them are routed here. Names claimed are held: after a
// reconnect the client re-claims them by itself. A name held by another
// live backend fails with a *NameTakenError (errors.Is ErrNameTaken); an
// orphaned name (its backend's session ended less than the grace period
// ago) is taken over, with the messages held for it delivered after the
// claim. With several names, the others are claimed even when one fails;
// the error joins the failures (errors.Is/As see each).
func (c *Client) Join(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	b, err := json.Marshal(names)
	if err != nil {
		return fmt.Errorf("client: join_subs: %w", err)
	}
	cn, release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	raw, err := c.emit(ctx, cn, "join_subs", sio.Args(b))
	if err != nil {
		return err
	}
	var r presenceReply
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("client: join_subs: bad reply: %w", err)
	}
	c.mu.Lock()
	for _, n := range r.Joined {
		c.names[n] = struct{}{}
	}
	c.mu.Unlock()
	return r.errs("join_subs")
}

// Leave releases names: the client no longer holds them, whatever the
// outcome (they are not re-claimed after a reconnect), and the hub stops
// routing their messages here. While the client is disconnected Leave only
// drops them locally and returns nil: the hub keeps them orphaned for its
// grace period, then frees them (and a resync that raced with Leave releases
// what it re-claimed). A name this backend does not hold, whether another
// backend or nobody holds it, fails with ErrNotHolder (HubError.Code
// NOT_HOLDER or NOT_FOUND).
func (c *Client) Leave(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	b, err := json.Marshal(names)
	if err != nil {
		return fmt.Errorf("client: leave_subs: %w", err)
	}
	c.mu.Lock()
	for _, n := range names {
		delete(c.names, n)
	}
	cn, stopped := c.cn, c.err
	c.mu.Unlock()
	if stopped != nil {
		return stopped
	}
	if cn == nil {
		return nil
	}
	raw, err := c.emit(ctx, cn, "leave_subs", sio.Args(b))
	if err != nil {
		return err
	}
	var r presenceReply
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("client: leave_subs: bad reply: %w", err)
	}
	return r.errs("leave_subs")
}

// Exists reports whether name is held anywhere in the cluster and, when a
// live backend holds it, that backend's address (holder is "" for an
// orphaned name: its backend's session ended within the grace period).
func (c *Client) Exists(ctx context.Context, name string) (exists bool, holder string, err error) {
	cn, err := c.current(ctx)
	if err != nil {
		return false, "", err
	}
	res, err := cn.sock.EmitWithAck(ctx, "subs_exists", sio.Args(jsonString(name)))
	if err != nil {
		return false, "", fmt.Errorf("client: subs_exists: %w", err)
	}
	if len(res.Args) == 0 {
		return false, "", errors.New("client: subs_exists: empty reply")
	}
	if err := json.Unmarshal(res.Args[0], &exists); err != nil {
		// Not a bool: a failure object.
		var f failure
		if json.Unmarshal(res.Args[0], &f) == nil && f.Code != "" {
			return false, "", f.err("subs_exists")
		}
		return false, "", fmt.Errorf("client: subs_exists: bad reply: %s", res.Args[0])
	}
	if len(res.Args) > 1 {
		var h *string
		if json.Unmarshal(res.Args[1], &h) == nil && h != nil {
			holder = *h
		}
	}
	return exists, holder, nil
}

// JoinRoom makes this backend a member of room: it receives the room's
// messages (except its own) until LeaveRoom. Rooms are re-joined after a
// reconnect by the client itself. Joining a room twice is not an error.
func (c *Client) JoinRoom(ctx context.Context, room string) error {
	return c.room(ctx, "join_room", room, true)
}

// LeaveRoom ends this backend's membership of room (locally at once, like
// Leave; while disconnected there is nothing else to do).
func (c *Client) LeaveRoom(ctx context.Context, room string) error {
	return c.room(ctx, "leave_room", room, false)
}

func (c *Client) room(ctx context.Context, event, room string, join bool) error {
	var cn *conn
	if join {
		var release func()
		var err error
		if cn, release, err = c.acquire(ctx); err != nil {
			return err
		}
		defer release()
	} else {
		// As Leave: dropped locally first; nothing to tell a hub we are
		// not connected to (a new session starts with no rooms).
		c.mu.Lock()
		delete(c.rooms, room)
		cur, stopped := c.cn, c.err
		c.mu.Unlock()
		if stopped != nil {
			return stopped
		}
		if cur == nil {
			return nil
		}
		cn = cur
	}
	raw, err := c.emit(ctx, cn, event, sio.Args(jsonString(room)))
	if err != nil {
		return err
	}
	var f failure
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("client: %s: bad reply: %w", event, err)
	}
	if !f.OK {
		return f.err(event)
	}
	if join {
		c.mu.Lock()
		c.rooms[room] = struct{}{}
		c.mu.Unlock()
	}
	return nil
}

// acquire waits for the registered connection and holds opMu shared until
// release: a resync cannot snapshot the held sets meanwhile. It never holds
// opMu while waiting (the resync that would end the wait needs it).
func (c *Client) acquire(ctx context.Context) (*conn, func(), error) {
	for {
		cn, err := c.current(ctx)
		if err != nil {
			return nil, nil, err
		}
		c.opMu.RLock()
		c.mu.Lock()
		same := c.cn == cn
		c.mu.Unlock()
		if same {
			return cn, c.opMu.RUnlock, nil
		}
		c.opMu.RUnlock()
	}
}
