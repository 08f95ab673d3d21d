// Applies the saved theme before the page paints (a classic script in <head>, so there is no flash):
// "light" or "dark" from localStorage sets <html data-theme>; "auto" (or nothing) follows prefers-color-scheme.
(function () {
  try {
    var s = JSON.parse(localStorage.getItem('muse.settings') || '{}');
    if (s && (s.theme === 'light' || s.theme === 'dark')) document.documentElement.dataset.theme = s.theme;
  } catch (e) {
    /* no storage: follow the system */
  }
})();
