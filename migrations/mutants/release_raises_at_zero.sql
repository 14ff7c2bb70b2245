-- MUTANT: release_session that raises at zero instead of returning -1.
-- What is wrong: truth 4 says it is a no-op returning -1 and never raises;
-- the app's Reinstate button would show an error. Not a race.
-- expect: no-raise
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
  returning sessions_used into v_sessions_used;

  if not found then
    raise exception 'no session to release on purchase %', p_purchase_id;
  end if;
  return v_sessions_used;
end;
$$;
