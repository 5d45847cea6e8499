-- Issue 14. grants_by_user_client (user_id, client_id) serves every lookup by user_id that
-- grants_by_user served, so the latter only cost a page write per grant, that is per sign-in.
-- The PostgreSQL schema never had it.
DROP INDEX IF EXISTS grants_by_user;
