-- A second counter for the same engine: an org's prepaid AI credits.
-- spend_credit moves credits_used up (bounded by credits_total), refund_credit
-- moves it down (bounded by 0) and returns the new value or -1.
create table public.orgs (
    id   uuid primary key default gen_random_uuid(),
    name text not null
);

create table public.credit_wallets (
    id            uuid primary key default gen_random_uuid(),
    org_id        uuid not null references public.orgs (id),
    credits_total int,
    credits_used  int not null default 0,
    updated_at    timestamptz not null default now()
);

create or replace function public.spend_credit(p_wallet uuid) returns boolean
language plpgsql as $$
begin
  update public.credit_wallets
     set credits_used = credits_used + 1, updated_at = now()
   where id = p_wallet and credits_used < credits_total;
  return found;
end $$;

create or replace function public.refund_credit(p_wallet uuid) returns int
language plpgsql as $$
declare v int;
begin
  update public.credit_wallets
     set credits_used = credits_used - 1, updated_at = now()
   where id = p_wallet and credits_used > 0
  returning credits_used into v;
  return coalesce(v, -1);
end $$;
