-- MUTANT: one UPDATE statement that reads the counter through a scalar
-- subquery: SET sessions_used = (SELECT sessions_used ...) - 1.
-- What is wrong: under READ COMMITTED the subquery is evaluated with the
-- statement's snapshot; when the row was changed meanwhile, PostgreSQL
-- re-checks the WHERE clause on the new row version but keeps the value the
-- subquery computed from the old one. Two concurrent releases at 2 both write
-- 1: an update is lost although there is a single statement. There is no
-- statement boundary to pause at, so the step scheduler cannot split it: only
-- the free-running executor finds it.
-- expect: no-lost-update, conservation, return-value, linearizable
-- schedule: no (one statement: there is nothing to pause between)
create or replace function public.release_session(p_purchase_id uuid)
returns int
language plpgsql
security definer
as $$
declare
  v_sessions_used int;
begin
  update public.client_purchases
     set sessions_used = (select c.sessions_used
                            from public.client_purchases c
                           where c.id = p_purchase_id) - 1
   where id = p_purchase_id
     and sessions_used > 0
  returning sessions_used into v_sessions_used;

  if not found then
    return -1;
  end if;
  return v_sessions_used;
end;
$$;
