-- MUTANT: an atomic, guarded use_session that forgets the expiry rule.
-- What is wrong: an expired pack can still be used (truth 6). Not a race.
-- expect: refuse-expired, linearizable
create or replace function public.use_session(p_purchase_id uuid)
returns boolean
language plpgsql
security definer
as $$
begin
  update public.client_purchases
     set sessions_used = sessions_used + 1
   where id = p_purchase_id
     and sessions_used < sessions_total;
  return found;
end;
$$;
