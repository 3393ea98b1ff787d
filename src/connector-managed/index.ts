/** Connector-managed e-mail accounts and templates for hosts without them (docs/design.md §6); see service.ts. */
export {
  ManagedService,
  managedTemplateSource,
  isManagedAccountId,
  isManagedTemplateId,
  MANAGED_ACCOUNT_PREFIX,
  MANAGED_TEMPLATE_PREFIX,
  type AccountInput,
  type AccountView,
  type ManagedProviders,
  type ManagedServiceDeps,
  type ManagedTemplateSource,
  type ServerInput,
  type ServerView,
  type TemplateInput,
  type TemplateView,
} from './service.ts';
