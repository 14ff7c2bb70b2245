-- The fix for use_session, proven by the harness: the guard and the increment
-- are one UPDATE. Same signature, same results (true: a session was used;
-- false: null counters, no session left, or expired), same expiry rule
-- (refused when expires_at < now()).
--
-- Why it holds: under READ COMMITTED, an UPDATE that finds its row locked by a
-- concurrent writer waits for it to commit, then re-checks its WHERE clause on
-- the row's new version. Two calls racing for the last session: the second
-- re-checks "sessions_used < sessions_total" after the first committed, finds
-- it false, and updates nothing.
create or replace function public.use_session(p_purchase_id uuid)
returns boolean
language plpgsql
security definer
as $$
begin
  update public.client_purchases
     set sessions_used = sessions_used + 1
   where id = p_purchase_id
     and sessions_used < sessions_total
     and (expires_at is null or expires_at >= now());
  return found;
end;
$$;
