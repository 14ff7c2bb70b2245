-- MUTANT: a guarded single-UPDATE use_session whose guard is off by one
-- (sessions_used <= sessions_total).
-- What is wrong: a full pack accepts one more use (sessions_remaining -1).
-- Atomic, so not a race: it breaks within-total with one call at a time.
-- expect: within-total, linearizable
create or replace function public.use_session(p_purchase_id uuid)
returns boolean
language plpgsql
security definer
as $$
begin
  update public.client_purchases
     set sessions_used = sessions_used + 1
   where id = p_purchase_id
     and sessions_used <= sessions_total
     and (expires_at is null or expires_at >= now());
  return found;
end;
$$;
