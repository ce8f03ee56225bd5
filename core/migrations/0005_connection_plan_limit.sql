-- The limit of a service's quota that this connection's own plan has, when connecting learned it
-- (Postman answers its plan's monthly Postman API calls on every response): the quota planner
-- uses it instead of the service's documented default. NULL: the documented default applies.
ALTER TABLE connections ADD COLUMN plan_limit INTEGER CHECK (plan_limit IS NULL OR plan_limit > 0);
