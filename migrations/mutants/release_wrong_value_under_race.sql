-- MUTANT: an atomic, guarded decrement whose returned value is computed from
-- a read made before the UPDATE.
-- What is wrong: between the SELECT and the UPDATE another session can commit
-- its own change; the UPDATE still decrements the latest value (the counter
-- stays right: never negative and conservation hold), but the function
-- returns what it read minus one, not what it committed. Only the returned
-- value is wrong, and only under concurrency: with the audit trail off, only
-- the linearizability check can see it.
-- expect: return-value, linearizable
create or replace function public.release_session(p_purchase_id uuid)
returns int
language plpgsql
security definer
as $$
declare
  v_before int;
begin
  select sessions_used into v_before
    from public.client_purchases
   where id = p_purchase_id;

  update public.client_purchases
     set sessions_used = sessions_used - 1
   where id = p_purchase_id
     and sessions_used > 0;

  if not found then
    return -1;
  end if;
  return v_before - 1;
end;
$$;
