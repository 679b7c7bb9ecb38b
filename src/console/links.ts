// Links into the console from elsewhere (Slack, email): the alert's page, which signs the reader in first.
export function alertPageUrl(consoleUrl: string, alertId: string): string {
  return `${consoleUrl.replace(/\/$/, '')}/#/alert/${encodeURIComponent(alertId)}`;
}
