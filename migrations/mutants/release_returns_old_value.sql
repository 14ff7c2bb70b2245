-- MUTANT: release_session that returns the value before the decrement.
-- What is wrong: the UI refreshes from the returned value (truth 3) and shows
-- one session too many. The counter itself stays right: only the returned
-- value is wrong, with one call at a time.
-- expect: return-value, linearizable
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
     and sessions_used > 0
  returning sessions_used + 1 into v_sessions_used;

  if not found then
    return -1;
  end if;
  return v_sessions_used;
end;
$$;
