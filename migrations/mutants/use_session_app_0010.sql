-- MUTANT: the app's original use_session from 0010 (read the guard, then
-- increment with no guard).
-- What is wrong: under READ COMMITTED two calls can both read "one session
-- left" before either increments; both return true and the pack is used
-- total + 1 times (sessions_remaining -1). Sequentially it is right, and it
-- keeps both invariants of release_session (never negative, conservation):
-- only the within-total property catches it, and only under concurrency.
-- expect: within-total, linearizable
create or replace function public.use_session(p_purchase_id uuid)
returns boolean
language plpgsql
security definer
as $$
declare
  v_remaining int;
  v_expires_at timestamptz;
begin
  select sessions_remaining, expires_at
    into v_remaining, v_expires_at
    from public.client_purchases
   where id = p_purchase_id;

  if v_remaining is null or v_remaining <= 0 then
    return false;
  end if;

  if v_expires_at is not null and v_expires_at < now() then
    return false;
  end if;

  update public.client_purchases
     set sessions_used = sessions_used + 1
   where id = p_purchase_id;

  return true;
end;
$$;
