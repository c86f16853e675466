import { useState, type SubmitEvent } from 'react';
import { LanguageSwitch } from '../components/Header';
import { useI18n } from '../i18n';
import { useErrorText } from '../lib/errors';
import { useSession } from '../lib/session';
import { useSubmission } from '../lib/use-resource';

export function Login() {
  const { login } = useSession();
  const { t } = useI18n();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useSubmission();
  const errorText = useErrorText();

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(
      () => login(email.trim(), password),
      (err) => (err.status === 401 || err.status === 400 ? t('login.invalid') : err.status === 429 ? t('login.throttled') : errorText(err).text),
    );
  };

  return (
    <main className="login-screen" data-testid="login-screen">
      <div className="login-lang">
        <LanguageSwitch />
      </div>
      <div className="login-card">
        <div className="login-brand">
          <span className="brand-mark brand-mark-lg" aria-hidden="true">
            +
          </span>
          <div>
            <h1>{t('app.name')}</h1>
            <p>{t('login.subtitle')}</p>
          </div>
        </div>
        <form onSubmit={(e) => void submit(e)} className="login-form" aria-describedby={error ? 'login-error' : undefined} noValidate>
          <h2>{t('login.title')}</h2>
          <div className="field">
            <label htmlFor="login-email">{t('login.email')}</label>
            <input
              id="login-email"
              data-testid="login-email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="login-password">{t('login.password')}</label>
            <input
              id="login-password"
              data-testid="login-password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          {error ? (
            <p id="login-error" className="form-error" role="alert" data-testid="login-error">
              {error}
            </p>
          ) : null}
          <button type="submit" className="btn btn-primary btn-block" data-testid="login-submit" disabled={busy || !email || !password}>
            {busy ? t('login.signingIn') : t('login.submit')}
          </button>
        </form>
        <p className="login-foot">{t('login.notice')}</p>
      </div>
    </main>
  );
}
