-- The parts of the app that 0010 needs: organisations and their members,
-- clients (who may sign in: clients.auth_user_id), subscriptions, platform
-- admins, and the helpers the row-level security policies call.
--
-- On the app, clients.auth_user_id was added by hand in production and written
-- into a migration only later; here it is part of the table from the start.

create table public.orgs (
    id         uuid primary key default uuid_generate_v4(),
    name       text not null,
    created_at timestamptz not null default now()
);

create table public.org_members (
    org_id     uuid not null references public.orgs (id) on delete cascade,
    user_id    uuid not null references auth.users (id) on delete cascade,
    role       text not null check (role in ('owner', 'staff')),
    created_at timestamptz not null default now(),
    primary key (org_id, user_id)
);

create table public.clients (
    id           uuid primary key default uuid_generate_v4(),
    org_id       uuid not null references public.orgs (id) on delete cascade,
    name         text not null,
    email        text,
    auth_user_id uuid references auth.users (id) on delete set null,
    created_at   timestamptz not null default now()
);
create index clients_org_id on public.clients (org_id);
create index clients_auth_user_id on public.clients (auth_user_id);

create table public.subscriptions (
    id         uuid primary key default uuid_generate_v4(),
    org_id     uuid not null references public.orgs (id) on delete cascade,
    plan       text not null default 'free',
    status     text not null default 'active'
               check (status in ('trialing', 'active', 'past_due', 'canceled')),
    created_at timestamptz not null default now()
);

create table public.platform_admins (
    user_id uuid primary key references auth.users (id) on delete cascade
);

-- Helpers for policies. SECURITY DEFINER so that a policy on org_members can
-- ask about org_members without recursing into its own policy.
create or replace function public.is_org_member(p_org_id uuid) returns boolean
language sql stable security definer set search_path = public as $$
    select exists (
        select 1 from public.org_members m
        where m.org_id = p_org_id and m.user_id = auth.uid()
    )
$$;

create or replace function public.org_role(p_org_id uuid) returns text
language sql stable security definer set search_path = public as $$
    select m.role from public.org_members m
    where m.org_id = p_org_id and m.user_id = auth.uid()
$$;

create or replace function public.is_platform_admin() returns boolean
language sql stable security definer set search_path = public as $$
    select exists (select 1 from public.platform_admins a where a.user_id = auth.uid())
$$;

alter table public.orgs enable row level security;
alter table public.org_members enable row level security;
alter table public.clients enable row level security;
alter table public.subscriptions enable row level security;
alter table public.platform_admins enable row level security;

create policy orgs_member_read on public.orgs
    for select using (public.is_org_member(id) or public.is_platform_admin());
create policy orgs_owner_write on public.orgs
    for update using (public.org_role(id) = 'owner');

create policy members_read on public.org_members
    for select using (public.is_org_member(org_id) or public.is_platform_admin());
create policy members_owner_write on public.org_members
    for all using (public.org_role(org_id) = 'owner')
    with check (public.org_role(org_id) = 'owner');

create policy clients_member_all on public.clients
    for all using (public.is_org_member(org_id))
    with check (public.is_org_member(org_id));
create policy clients_self_read on public.clients
    for select using (auth_user_id = auth.uid());

create policy subscriptions_member_read on public.subscriptions
    for select using (public.is_org_member(org_id) or public.is_platform_admin());

create policy platform_admins_self on public.platform_admins
    for select using (user_id = auth.uid());
