-- Time off from HR sources (TimeOffRecorded): the latest state of each request, and its days
-- while it is approved. Utilization subtracts the days from capacity; a cancelled or denied
-- request keeps its row and loses its days. The later observation wins (observed_at), so a
-- redelivered or older event changes nothing and no inbox is needed.
CREATE TABLE report_time_off (
    workspace_id   text        NOT NULL,
    integration_id text        NOT NULL,
    request_id     text        NOT NULL,
    source         text        NOT NULL,
    email          text,
    employee_name  text,
    status         text        NOT NULL,
    absence_type   text        NOT NULL,
    unit           text        NOT NULL,
    amount         numeric     NOT NULL,
    start_date     date        NOT NULL,
    end_date       date        NOT NULL,
    observed_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, integration_id, request_id)
);

CREATE TABLE report_time_off_days (
    workspace_id   text    NOT NULL,
    integration_id text    NOT NULL,
    request_id     text    NOT NULL,
    email          text    NOT NULL,
    day            date    NOT NULL,
    amount         numeric NOT NULL,
    unit           text    NOT NULL,
    PRIMARY KEY (workspace_id, integration_id, request_id, day)
);
CREATE INDEX report_time_off_days_by_day ON report_time_off_days (workspace_id, day);

-- A time-off email is matched to the user whose entries carry it: one index lookup per email.
CREATE INDEX report_entries_by_email ON report_entries (workspace_id, source, lower(user_email))
    WHERE user_email IS NOT NULL;
