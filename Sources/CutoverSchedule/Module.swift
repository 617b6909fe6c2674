// CutoverSchedule: cron expressions, time zones from the system's zoneinfo, schedules folded
// from their events, and the scheduler's decisions.
