-- Hours of the trending rollup to count again: an event written with a time in an hour the rollup has already
-- closed (a Personalize PutEvents sentAt from a client that buffered its events, `dummi import` with old
-- timestamps) marks its hour here, in the event's own transaction; the next rollup counts each marked hour
-- again from the interactions and clears the mark.
CREATE TABLE item_hourly_engagement_stale (
    hour timestamptz PRIMARY KEY
);
