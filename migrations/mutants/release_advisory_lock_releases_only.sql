-- MUTANT: read-then-write release "made safe" with a transaction-level
-- advisory lock on the purchase, the way a fix often looks in review.
-- What is wrong: the lock serialises releases among themselves, but
-- use_session does not take it. A use that commits between the release's
-- read and its write is overwritten (2 -> 3 by the use, then 3 -> 1 by the
-- release, which computed 2 - 1): an update is lost. Releases alone pass;
-- the harness needs both operations in one workload to see it.
-- expect: no-lost-update, conservation, linearizable
create or replace function public.release_session(p_purchase_id uuid)
returns int
language plpgsql
security definer
as $$
declare
  v_used int;
begin
  perform pg_advisory_xact_lock(hashtext(p_purchase_id::text));

  select sessions_used into v_used
    from public.client_purchases
   where id = p_purchase_id;

  if v_used is null or v_used <= 0 then
    return -1;
  end if;

  update public.client_purchases
     set sessions_used = v_used - 1
   where id = p_purchase_id;
  return v_used - 1;
end;
$$;
