-- MUTANT: spend_credit that checks the balance, then spends without a guard.
-- What is wrong: two concurrent spends of the last credit both succeed.
-- expect: within-total, linearizable
create or replace function public.spend_credit(p_wallet uuid) returns boolean
language plpgsql as $$
declare v_left int;
begin
  select credits_total - credits_used into v_left
    from public.credit_wallets where id = p_wallet;
  if v_left is null or v_left <= 0 then
    return false;
  end if;
  update public.credit_wallets set credits_used = credits_used + 1 where id = p_wallet;
  return true;
end $$;
