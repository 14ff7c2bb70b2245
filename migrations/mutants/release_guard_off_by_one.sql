-- MUTANT: release_session with its guard off by one (>= 0 instead of > 0).
-- What is wrong: at sessions_used = 0 it decrements to -1 and returns -1,
-- which the caller reads as "nothing to release" although the counter moved.
-- Breaks never-negative even with one call at a time.
-- expect: never-negative, return-value, linearizable
create or replace function public.release_session(p_purchase_id uuid)
returns int
language plpgsql
security definer
as $$
declare
  v_sessions_used int;
begin
  update public.client_purchases
     set sessions_used = sessions_used - 1
   where id = p_purchase_id
     and sessions_used >= 0
  returning sessions_used into v_sessions_used;

  if not found then
    return -1;
  end if;
  return v_sessions_used;
end;
$$;
