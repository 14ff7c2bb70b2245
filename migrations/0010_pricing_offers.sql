-- Offers an org sells, the packs clients bought, and use_session AS THE APP
-- HAS IT (migration 0010_pricing_offers.sql).
--
-- Known debt, from the app's own milestone audit: use_session's guard is a
-- SELECT before the UPDATE, which is not concurrency-safe under READ
-- COMMITTED. 0033 replaces it; migrations/mutants/use_session_app_0010.sql
-- keeps this version for the harness to catch.

create table public.offers (
    id             uuid primary key default uuid_generate_v4(),
    org_id         uuid not null references public.orgs (id) on delete cascade,
    name           text not null,
    price_cents    int not null default 0,
    sessions_count int,
    bonus_sessions int not null default 0,
    validity_days  int,
    active         boolean not null default true,
    created_at     timestamptz not null default now()
);

create table public.client_purchases (
    id                 uuid primary key default uuid_generate_v4(),
    org_id             uuid not null references public.orgs (id),
    client_id          uuid not null references public.clients (id),
    offer_id           uuid not null references public.offers (id),
    amount_paid_cents  int not null,
    sessions_total     int,            -- bonus included; null for non-pack offers
    sessions_used      int default 0,  -- no CHECK: the functions are trusted
    sessions_remaining int generated always as (sessions_total - sessions_used) stored,
    expires_at         timestamptz,    -- null: never expires
    payment_status     text not null default 'pending'
                       check (payment_status in ('pending', 'succeeded', 'failed', 'refunded')),
    created_at         timestamptz not null default now()
);
create index client_purchases_org on public.client_purchases (org_id);
create index client_purchases_client on public.client_purchases (client_id);

alter table public.offers enable row level security;
alter table public.client_purchases enable row level security;

create policy offers_member_all on public.offers
    for all using (public.is_org_member(org_id))
    with check (public.is_org_member(org_id));

create policy purchases_member_read on public.client_purchases
    for select using (public.is_org_member(org_id));
create policy purchases_member_insert on public.client_purchases
    for insert with check (public.is_org_member(org_id));
create policy purchases_member_update on public.client_purchases
    for update using (public.is_org_member(org_id))
    with check (public.is_org_member(org_id));
create policy purchases_owner_delete on public.client_purchases
    for delete using (public.org_role(org_id) = 'owner');
create policy purchases_admin_read on public.client_purchases
    for select using (public.is_platform_admin());
create policy purchases_client_read on public.client_purchases
    for select using (exists (
        select 1 from public.clients c
        where c.id = client_id and c.auth_user_id = auth.uid()));

-- Read the guard, then increment with no guard: two calls that both read
-- "one left" both increment.
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
