// Package priority sets how favourably the operating system schedules
// Switchboard: its niceness, as nice(1), HAProxy's nice keyword and nginx's
// worker_priority set it.
//
// On Linux niceness belongs to each thread, not to the process, so Set
// renices every thread the runtime has started; threads started later are
// cloned from those and inherit it.
package priority
